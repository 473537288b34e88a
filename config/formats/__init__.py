"""Date and number formats where Django's own leave a gap (FORMAT_MODULE_PATH)."""
