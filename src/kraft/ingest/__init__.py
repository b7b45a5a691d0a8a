"""Import operational data: read files, validate set-wise, write all or nothing."""
