"""Credit lists for college registrars: exporters that yield rows, renderers that write files.

An exporter is a small class: an identifier, a name, the filters it takes and a
generator of rows, in the columns DESIGN.md lists, in that order. The
registrar page, the admin action and ``manage.py export_credits`` all use the
same classes, so the files they write are the same. Rows come from one query
read through a server-side cursor, so memory stays flat however many there are.
"""

import csv
import datetime as dt
import hashlib
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from decimal import Decimal

from django.db import connection
from django.db.models import Case, F, Func, IntegerField, QuerySet, TextField, Value, When
from django.db.models.functions import Cast, Concat, LPad, Mod, Trim
from django.db.models.lookups import In
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from articulations.school_year import school_year_label
from grading.models import Credit

COLUMNS = [
    "SERS ID",
    "Last name",
    "First name",
    "Middle name",
    "Date of birth",
    "Email",
    "Phone",
    "Mailing address",
    "High school",
    "District",
    "School year",
    "College course number",
    "College course title",
    "Credits",
    "Grade",
    "Teacher",
]

# The database columns behind each row, in the order ``_row`` reads them.
_FIELDS = [
    "student__sers_id",
    "student__legal_last_name",
    "student__legal_first_name",
    "student__legal_middle_name",
    "student__date_of_birth",
    "student__email",
    "student__phone",
    "student__street",
    "student__city",
    "student__state",
    "student__zip_code",
    "registration__course_class__school__name",
    "registration__course_class__school__district__name",
    "school_year_id",
    "college_course",
    "college_course_title",
    "college_credits",
    "grade",
    "registration__course_class__teacher__user__first_name",
    "registration__course_class__teacher__user__last_name",
]
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
        return COLUMNS

    def rows(self, credits: QuerySet[Credit] | None = None) -> Iterator[list]:
        credits = self.queryset() if credits is None else credits
        for values in credits.values_list(*_FIELDS).iterator(chunk_size=CURSOR_CHUNK):
            yield _row(values)


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


def _row(values: tuple) -> list:
    (
        sers_id, last, first, middle, born, email, phone, street, city, state, zip_code,
        school, district, start_year, course, title, credits, grade, teacher_first, teacher_last,
    ) = values  # fmt: skip
    return [
        sers_id,
        last,
        first,
        middle,
        born,
        email,
        phone,
        f"{street}, {city}, {state} {zip_code}",
        school,
        district,
        school_year_label(start_year),
        course,
        title,
        credits,
        grade,
        f"{teacher_first} {teacher_last}".strip(),
    ]


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


def _copy_columns() -> dict:
    """The COLUMNS worked out in SQL, in order, exactly as ``_row`` and ``safe_cell`` make them."""
    start = F("school_year_id")
    return {
        "c01": _guarded(F("student__sers_id")),
        "c02": _guarded(F("student__legal_last_name")),
        "c03": _guarded(F("student__legal_first_name")),
        "c04": _guarded(F("student__legal_middle_name")),
        "c05": Func(
            F("student__date_of_birth"),
            Value("YYYY-MM-DD"),
            function="to_char",
            output_field=TextField(),
        ),
        "c06": _guarded(F("student__email")),
        "c07": _guarded(F("student__phone")),
        "c08": _guarded(
            Concat(
                F("student__street"),
                Value(", "),
                F("student__city"),
                Value(", "),
                F("student__state"),
                Value(" "),
                F("student__zip_code"),
                output_field=TextField(),
            )
        ),  # fmt: skip
        "c09": _guarded(F("registration__course_class__school__name")),
        "c10": _guarded(F("registration__course_class__school__district__name")),
        "c11": Concat(
            _as_text(start),
            Value("-"),
            LPad(_as_text(Mod(start + 1, 100)), 2, Value("0")),
            output_field=TextField(),
        ),  # fmt: skip
        "c12": _guarded(F("college_course")),
        "c13": _guarded(F("college_course_title")),
        "c14": _as_text(Func(F("college_credits"), function="trim_scale")),
        "c15": _guarded(F("grade")),
        "c16": _guarded(
            Trim(
                Concat(
                    F("registration__course_class__teacher__user__first_name"),
                    Value(" "),
                    F("registration__course_class__teacher__user__last_name"),
                    output_field=TextField(),
                )
            )
        ),  # fmt: skip
    }


def _copy_chunks(credits: QuerySet[Credit], writer: CsvWriter) -> Iterator[bytes]:
    columns = _copy_columns()
    select = credits.annotate(**columns).values_list(*columns).order_by("pk")
    sql, params = select.query.sql_with_params()
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
_XLSX_WIDTHS = [13, 16, 14, 14, 12, 28, 14, 40, 28, 24, 11, 12, 32, 8, 7, 22]
# XML 1.0 cannot carry these control characters at all (openpyxl refuses the whole file);
# they are dropped. Most cells hold none of these, nor & < >, so one search lets them through.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_XML_NEEDS_WORK = re.compile("[&<>\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def write_xlsx(
    exporter: CreditExporter, path, credits=None, progress=None, every: int = 5000
) -> int:
    """Write an XLSX file, the rows streamed to disk as they come; returns the row count."""
    letters = [get_column_letter(number) for number in range(1, len(exporter.header()) + 1)]
    count = 0
    with (
        zipfile.ZipFile(io.BytesIO(_xlsx_package(exporter.header()))) as package,
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


def _xlsx_package(header: list[str]) -> bytes:
    """The whole file as openpyxl writes it, holding the header row only."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title="Credits")
    for number, width in enumerate(_XLSX_WIDTHS, start=1):
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
