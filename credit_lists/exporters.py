"""Credit lists for college registrars: exporters that yield rows, renderers that write files.

An exporter is a small class: an identifier, a name, the filters it takes and a
generator of rows, in the columns DESIGN.md lists, in that order. The
registrar page, the admin action and ``manage.py export_credits`` all use the
same classes, so the files they write are the same. Rows come from one query
read through a server-side cursor, so memory stays flat however many there are.

The columns are defined once, in ``COLUMNS`` below: each says how Python makes its cell
(for the XLSX) and how SQL makes the same cell (for the CSV, which PostgreSQL's ``COPY``
writes). Adding a column is one ``Column(...)`` there.
"""

import csv
import datetime as dt
import hashlib
import io
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from decimal import Decimal

from django.db import connection
from django.db.models import (
    Case,
    Expression,
    F,
    Func,
    IntegerField,
    QuerySet,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Cast, Concat, LPad, Mod, Trim
from django.db.models.lookups import In
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from articulations.school_year import school_year_label
from grading.models import Credit


@dataclass(frozen=True)
class Column:
    """One column of the credit list, as both ways of writing the list make it.

    ``fields`` are the Credit lookups the cell is made of. The Python path (the XLSX, and
    the CSV without PostgreSQL) reads their values and calls ``python(*values)``: by default
    the one field's value as it is; ``safe_cell`` then writes it (ISO dates, plain numbers, a
    quote before a formula). The CSV's ``COPY`` calls ``sql(*[F(field) for field in fields])``
    for the same cell as SQL text, so it must give the text ``safe_cell`` would, formula
    guard (``_guarded``) included: by default the one field, guarded. ``width`` is the
    column's width in the XLSX.
    """

    header: str
    fields: str | tuple[str, ...]
    width: int
    python: Callable[..., object] | None = None
    sql: Callable[..., Expression] | None = None

    def __post_init__(self):
        if isinstance(self.fields, str):
            object.__setattr__(self, "fields", (self.fields,))
        if self.python is None and len(self.fields) > 1:
            raise ValueError(f"{self.header}: a cell made of several fields needs python=")
        if self.python is not None and self.sql is None:
            raise ValueError(f"{self.header}: python= needs the sql= that writes the same cell")

    def sql_expression(self) -> Expression:
        return (self.sql or _guarded)(*(F(name) for name in self.fields))


# The credit list, column by column, in the order DESIGN.md lists them: the header, the
# Python rows, the SQL of the COPY and the XLSX widths are all made from this one tuple.
# The COPY-vs-Python test in credit_lists/tests/test_exports.py checks each column's
# ``python`` and ``sql`` agree. Dates, numbers and school years never start like a formula,
# so their SQL skips the guard (it costs a little on every cell).
COLUMNS = (
    Column("SERS ID", "student__sers_id", width=13),
    Column("Last name", "student__legal_last_name", width=16),
    Column("First name", "student__legal_first_name", width=14),
    Column("Middle name", "student__legal_middle_name", width=14),
    Column(
        "Date of birth",
        "student__date_of_birth",
        width=12,
        sql=lambda born: Func(  # safe_cell writes a date as ISO 8601
            born, Value("YYYY-MM-DD"), function="to_char", output_field=TextField()
        ),
    ),
    Column("Email", "student__email", width=28),
    Column("Phone", "student__phone", width=14),
    Column(
        "Mailing address",
        ("student__street", "student__city", "student__state", "student__zip_code"),
        width=40,
        python=lambda street, city, state, zip_code: f"{street}, {city}, {state} {zip_code}",
        sql=lambda street, city, state, zip_code: _guarded(
            _concat(street, ", ", city, ", ", state, " ", zip_code)
        ),
    ),
    Column("High school", "registration__course_class__school__name", width=28),
    Column("District", "registration__course_class__school__district__name", width=24),
    Column(
        "School year",
        "school_year_id",
        width=11,
        python=school_year_label,  # 2026 -> "2026-27"
        sql=lambda start: _concat(
            _as_text(start), "-", LPad(_as_text(Mod(start + 1, 100)), 2, Value("0"))
        ),
    ),
    Column("College course number", "college_course", width=12),
    Column("College course title", "college_course_title", width=32),
    Column(
        "Credits",
        "college_credits",
        width=8,
        sql=lambda credits: _as_text(Func(credits, function="trim_scale")),  # 5.0 -> "5"
    ),
    Column("Grade", "grade", width=7),
    Column(
        "Teacher",
        (
            "registration__course_class__teacher__user__first_name",
            "registration__course_class__teacher__user__last_name",
        ),
        width=22,
        python=lambda first, last: f"{first} {last}".strip(),
        sql=lambda first, last: _guarded(Trim(_concat(first, " ", last))),
    ),
)
# The header row, for the tests and anyone else who compares against it.
HEADER = [column.header for column in COLUMNS]

CURSOR_CHUNK = 5000
COPY_CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class CreditFilters:
    """What a registrar (or staff) asked for. Kept on the export batch as it was."""

    college_id: int | None = None
    school_year: int | None = None
    term: str = ""
    school_id: int | None = None
    course: str = ""
    new_only: bool = False
    credit_ids: tuple[int, ...] = field(default=())

    def as_dict(self) -> dict:
        data = asdict(self)
        data["credit_ids"] = list(self.credit_ids)
        return {key: value for key, value in data.items() if value not in (None, "", False, [])}

    @classmethod
    def from_dict(cls, data: dict) -> "CreditFilters":
        data = dict(data)
        data["credit_ids"] = tuple(data.get("credit_ids", ()))
        return cls(**data)


class CreditExporter:
    """Earned credit, one row per credit, oldest first."""

    identifier = "credits"
    name = "Earned college credit"
    # Whether a download marks its rows exported. Only the college's own lists do:
    # "not yet exported" is what that college's registrar has not fetched yet.
    marks_exported = False

    def __init__(self, filters: CreditFilters):
        self.filters = filters

    def queryset(self) -> QuerySet[Credit]:
        credits = Credit.objects.all()
        f = self.filters
        if f.college_id is not None:
            credits = credits.filter(college_id=f.college_id)
        if f.school_year is not None:
            credits = credits.filter(school_year_id=f.school_year)
        if f.term:
            credits = credits.filter(registration__course_class__term=f.term)
        if f.school_id is not None:
            credits = credits.filter(registration__course_class__school_id=f.school_id)
        if f.course:
            credits = credits.filter(college_course=f.course)
        if f.new_only:
            credits = credits.filter(exported_batch__isnull=True)
        if f.credit_ids:
            credits = credits.filter(pk__in=f.credit_ids)
        return credits.order_by("pk")

    def header(self) -> list[str]:
        return [column.header for column in COLUMNS]

    def rows(self, credits: QuerySet[Credit] | None = None) -> Iterator[list]:
        credits = self.queryset() if credits is None else credits
        columns = COLUMNS
        row = _row_maker(columns)
        fields = _source_fields(columns)
        for values in credits.values_list(*fields).iterator(chunk_size=CURSOR_CHUNK):
            yield row(values)


class CollegeCreditExporter(CreditExporter):
    """One college's earned credit: what its registrar transcripts."""

    identifier = "college_credits"
    name = "Your college's earned credit"
    marks_exported = True

    def __init__(self, filters: CreditFilters):
        if filters.college_id is None:
            raise ValueError("A college's credit list needs the college.")
        super().__init__(filters)


class StaffCreditExporter(CreditExporter):
    """The same rows for consortium staff, over any college."""

    identifier = "staff_credits"
    name = "Earned credit, all colleges"


def _source_fields(columns) -> list[str]:
    """The Credit lookups behind the columns, in order: a column of two fields reads two."""
    return [name for column in columns for name in column.fields]


def _row_maker(columns):
    """Turns a tuple of ``_source_fields(columns)`` values into the row's cells."""
    plan = []  # per column: its python, where its values start, and the slice of them
    start = 0
    for column in columns:
        end = start + len(column.fields)
        plan.append((column.python, start, slice(start, end)))
        start = end

    def row(values: tuple) -> list:
        return [
            values[first] if python is None else python(*values[part])
            for python, first, part in plan
        ]

    return row


# --- Rendering ---------------------------------------------------------------------------------

# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_FIRST = frozenset(FORMULA_STARTS)


def safe_cell(value) -> str:
    """The cell as text, ISO dates, and a leading quote where a spreadsheet would see a formula."""
    if value.__class__ is str:  # nearly every cell: the quickest path (bench/export_credits.py)
        return "'" + value if value[:1] in _FORMULA_FIRST else value
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


class CsvWriter:
    """Turns rows into UTF-8 CSV bytes, counting rows and hashing every byte it hands out."""

    def __init__(self):
        self.buffer = io.StringIO()
        # "\n", as PostgreSQL's COPY writes it: both paths give the same bytes.
        self.writer = csv.writer(self.buffer, lineterminator="\n")
        self.digest = hashlib.sha256()
        self.row_count = 0

    def encode(self, rows: list[list]) -> bytes:
        for row in rows:
            self.writer.writerow([safe_cell(value) for value in row])
        data = self.buffer.getvalue().encode("utf-8")
        self.buffer.seek(0)
        self.buffer.truncate()
        self.digest.update(data)
        return data

    def header(self, columns: list[str]) -> bytes:
        return self.encode([columns])

    def body(self, rows: list[list]) -> bytes:
        self.row_count += len(rows)
        return self.encode(rows)


def csv_chunks(
    exporter: CreditExporter,
    writer: CsvWriter,
    credits=None,
    rows_per_chunk: int = 1000,
    use_copy: bool | None = None,
):
    """The CSV as a stream of byte chunks: a header, then the rows.

    On PostgreSQL the rows come from ``COPY ... TO STDOUT`` with the same cells worked
    out in SQL, so Python only passes bytes on (bench/export_credits.py has the figures);
    elsewhere (the embedded SQLite run) ``rows_per_chunk`` rows at a time from Python.
    """
    yield writer.header(exporter.header())
    credits = exporter.queryset() if credits is None else credits
    if use_copy is None:
        use_copy = connection.vendor == "postgresql"
    if use_copy:
        yield from _copy_chunks(credits, writer)
        return
    chunk = []
    for row in exporter.rows(credits):
        chunk.append(row)
        if len(chunk) >= rows_per_chunk:
            yield writer.body(chunk)
            chunk = []
    if chunk:
        yield writer.body(chunk)


# The code points of FORMULA_STARTS, for the SQL guard: ``ascii()`` on the first character
# costs a third of a ``regexp_replace`` per cell (bench/README.md).
_FORMULA_CODES = [ord(start) for start in FORMULA_STARTS]


def _guarded(expression):
    """A text cell as ``safe_cell`` writes it: a formula start gets a quote; empty is NULL."""
    first = Func(expression, function="ascii", output_field=IntegerField())
    quoted = Case(
        When(In(first, _FORMULA_CODES), then=Concat(Value("'"), expression)),
        default=expression,
        output_field=TextField(),
    )
    return Func(quoted, Value(""), function="NULLIF", output_field=TextField())


def _as_text(expression):
    return Cast(expression, output_field=TextField())


def _concat(*parts):
    """SQL ``||`` of the parts, a ``str`` part taken as a literal: ``_concat(first, " ", last)``."""
    parts = [Value(part) if isinstance(part, str) else part for part in parts]
    return Concat(*parts, output_field=TextField())


def _copy_select(credits: QuerySet[Credit]) -> QuerySet:
    """The credits as a SELECT of the COLUMNS' cells, each worked out by its ``Column.sql``."""
    cells = {f"c{number:02d}": column.sql_expression() for number, column in enumerate(COLUMNS, 1)}
    return credits.annotate(**cells).values_list(*cells).order_by("pk")


def _copy_chunks(credits: QuerySet[Credit], writer: CsvWriter) -> Iterator[bytes]:
    sql, params = _copy_select(credits).query.sql_with_params()
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg's own cursor: Django's wrapper has no COPY
        with raw.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", params) as copy:
            # PostgreSQL sends a message per row: gather them so a download
            # writes to its socket once per ~64 KiB, not once per row.
            pending = bytearray()
            for block in copy:
                pending += block
                if len(pending) >= COPY_CHUNK_BYTES:
                    yield _hashed(writer, pending)
                    pending = bytearray()
            if pending:
                yield _hashed(writer, pending)
        writer.row_count += raw.rowcount


def _hashed(writer: CsvWriter, data: bytearray) -> bytes:
    writer.digest.update(data)
    return bytes(data)


# The sheet's rows are written as SpreadsheetML text, in the form openpyxl's write-only mode
# gives them (inline strings, numbers as ``t="n"``), straight into the zip entry. openpyxl
# writes everything else in the file (workbook, styles, header row, widths, frozen pane).
# Why not openpyxl for the rows too: its per-cell serialiser spends ~0.2 ms a row, so a
# 100k-row list took 21-34 s against a 10 s target (XlsxWriter 15 s, pyexcelerate 12 s);
# written here, fetching included, it takes 4-5 s. See bench/README.md.
XLSX_SHEET = "xl/worksheets/sheet1.xml"
_XLSX_ROWS_PER_WRITE = 1000
# XML 1.0 cannot carry these control characters at all (openpyxl refuses the whole file);
# they are dropped. Most cells hold none of these, nor & < >, so one search lets them through.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_XML_NEEDS_WORK = re.compile("[&<>\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def write_xlsx(
    exporter: CreditExporter, path, credits=None, progress=None, every: int = 5000
) -> int:
    """Write an XLSX file, the rows streamed to disk as they come; returns the row count."""
    letters = [get_column_letter(number) for number in range(1, len(exporter.header()) + 1)]
    widths = [column.width for column in COLUMNS]
    count = 0
    with (
        zipfile.ZipFile(io.BytesIO(_xlsx_package(exporter.header(), widths))) as package,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as xlsx,
    ):
        for entry in package.infolist():
            if entry.filename != XLSX_SHEET:
                xlsx.writestr(entry.filename, package.read(entry))
                continue
            before, after = package.read(entry).split(b"</sheetData>")
            with xlsx.open(XLSX_SHEET, "w", force_zip64=True) as sheet:
                sheet.write(before)
                count = _write_xlsx_rows(sheet, letters, exporter.rows(credits), progress, every)
                sheet.write(b"</sheetData>" + after)
    return count


def _xlsx_package(header: list[str], widths: list[int]) -> bytes:
    """The whole file as openpyxl writes it, holding the header row only."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title="Credits")
    for number, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(number)].width = width
    sheet.freeze_panes = "A2"  # the header stays in view while scrolling
    sheet.append(header)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _write_xlsx_rows(sheet, letters, rows, progress, every: int) -> int:
    lines = []
    count = 0
    for count, row in enumerate(rows, start=1):
        number = count + 1  # row 1 is the header
        cells = [f'<row r="{number}">']
        for letter, value in zip(letters, row, strict=True):
            if isinstance(value, Decimal):  # credits: a number a registrar can add up
                cells.append(f'<c r="{letter}{number}" t="n"><v>{value.normalize():f}</v></c>')
                continue
            text = safe_cell(value)
            if not text:
                continue
            cells.append(_xlsx_text_cell(f"{letter}{number}", text))
        cells.append("</row>")
        lines.append("".join(cells))
        if count % _XLSX_ROWS_PER_WRITE == 0:
            sheet.write("".join(lines).encode())
            lines.clear()
        if progress and count % every == 0:
            progress(count)
    sheet.write("".join(lines).encode())
    return count


def _xlsx_text_cell(reference: str, text: str) -> str:
    if _XML_NEEDS_WORK.search(text):
        text = _XML_ILLEGAL.sub("", text)
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    # Without xml:space a reader may drop leading and trailing spaces.
    space = ' xml:space="preserve"' if text != text.strip() else ""
    return f'<c r="{reference}" t="inlineStr"><is><t{space}>{text}</t></is></c>'


def sha256_of_file(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
