"""Arabic formats Django's locale leaves unset (django/conf/locale/ar/formats.py
has no DATETIME_FORMAT, so an Arabic page fell back to the English "N j, Y, P":
"ديسمبر 3, 2026, 6:26 م"). The rest are Django's."""

DATETIME_FORMAT = "j F Y، g:i A"
SHORT_DATETIME_FORMAT = "d‏/m‏/Y g:i A"
