"""Write tests/data/load__book.xls (BIFF8) with xlwt: two sheets, a header, mixed cells."""

import datetime as dt

import xlwt

book = xlwt.Workbook()
people = book.add_sheet("People")
rows = [
    ["name", "age", "joined", "city", "name"],
    ["José", 34, dt.datetime(2021, 3, 4), "Málaga", "a"],
    ["Zoë", 28.5, dt.datetime(2022, 11, 30), "N/A", "b"],
]
date_style = xlwt.easyxf(num_format_str="YYYY-MM-DD")
for r, row in enumerate(rows):
    for c, value in enumerate(row):
        if isinstance(value, dt.datetime):
            people.write(r, c, value, date_style)
        else:
            people.write(r, c, value)
other = book.add_sheet("Other")
other.write(0, 0, "k")
other.write(1, 0, 1)
book.save("tests/data/load__book.xls")
