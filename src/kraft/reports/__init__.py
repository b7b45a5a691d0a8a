"""Documents people read: the framework document, scorecards and management reports."""
