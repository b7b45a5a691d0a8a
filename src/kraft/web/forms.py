"""What the pages' yes/no form fields may say (a checkbox sends "on"; an unticked one, nothing),
as the import and compute forms read them."""

from __future__ import annotations

BOOLEAN = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False}
BOOLEAN |= {"no": False, "off": False, "": False}
