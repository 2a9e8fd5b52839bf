"""Formats of the admin and the pages: ISO dates, and times in São Paulo labelled BRT.

Datetimes are stored in UTC and shown in the active time zone, São Paulo's (UTC−3 all year
since 2019), so the label is constant.
"""

DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
DATETIME_FORMAT = r"Y-m-d H:i:s \B\R\T"
SHORT_DATETIME_FORMAT = r"Y-m-d H:i \B\R\T"
TIME_FORMAT = r"H:i:s \B\R\T"

# Numbers the admin shows as they are stored (a row's page, a read-only field) are grouped
# in thousands: 21,428,650.00 (settings.USE_THOUSAND_SEPARATOR). Form inputs are not.
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
