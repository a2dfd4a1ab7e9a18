"""kaohe_xlsx: the annual assessment (考核) of government organs, run through Excel workbooks."""

__version__ = "0.1.0"
