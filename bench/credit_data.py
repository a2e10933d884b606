"""The benchmark's database and data: a PostgreSQL database made for it, filled with N earned
credits by PostgreSQL itself (one INSERT ... SELECT per table, no Python loop).

Used by bench/export_credits.py, which measures the exports over these rows."""

import contextlib
import datetime as dt
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/sers_bench"
# SERS IDs are TP3-NN-NNNN: six digits, a million students at most.
MAX_ROWS = 1_000_000
COLLEGE_CODE = "BENCH"


# --- Environment and database --------------------------------------------------------------


def configure_environment() -> None:
    """Settings for a benchmark run: the bench database, DEBUG off, no broker, media in /tmp."""
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = DEFAULT_DATABASE_URL
    os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret")
    os.environ["DJANGO_SETTINGS_MODULE"] = "sers.settings"
    os.environ["DEBUG"] = "0"  # DEBUG would keep every query in memory
    os.environ.pop("REDIS_URL", None)  # nothing here queues a task
    # export_csv_stream keeps its batch file under MEDIA_ROOT: never the project's media/.
    # Made only if something is written there; removed by media_cleanup().
    os.environ["MEDIA_ROOT"] = os.path.join(
        tempfile.gettempdir(), f"sers-bench-media-{os.getpid()}"
    )
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def media_cleanup() -> None:
    shutil.rmtree(os.environ["MEDIA_ROOT"], ignore_errors=True)


def database_settings() -> dict:
    """DATABASE_URL, parsed; refuses anything but a PostgreSQL database named ``*bench``."""
    import dj_database_url

    url = os.environ["DATABASE_URL"]
    config = dj_database_url.parse(url)
    if config["ENGINE"] != "django.db.backends.postgresql":
        raise SystemExit(
            f"DATABASE_URL must be PostgreSQL (postgres://...), not {config['ENGINE']}."
        )
    name = config.get("NAME") or ""
    if not name.endswith("bench"):
        raise SystemExit(
            f"The benchmark empties the tables of its database: it runs only on a database "
            f"whose name ends in 'bench' (e.g. sers_bench), not {name!r}."
        )
    return config


def ensure_database(config: dict) -> None:
    """CREATE DATABASE when it is missing, from the server's ``postgres`` database."""
    import psycopg
    from psycopg import sql

    connection = psycopg.connect(
        dbname="postgres",
        user=config.get("USER") or None,
        password=config.get("PASSWORD") or None,
        host=config.get("HOST") or None,
        port=config.get("PORT") or None,
        autocommit=True,
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]])
            if cursor.fetchone() is None:
                print(f"Creating database {config['NAME']}")
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(config["NAME"])))
    finally:
        connection.close()


def setup_django() -> None:
    import django

    django.setup()


# --- Data ---------------------------------------------------------------------------------

# One statement per table, every row made by PostgreSQL from the series index: no Python loop.
# FK triggers are off while they run (session_replication_role = replica, see build_rows):
# the rows are made consistent by construction.
INSERT_USERS = """
INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email,
                       is_staff, is_active, date_joined)
SELECT %(base)s + i, '!', false, 'bench' || i, '', '', '', false, true, now()
FROM generate_series(1, %(n)s) AS i
"""

INSERT_STUDENTS = """
INSERT INTO students_student (
    id, sers_id, legal_first_name, legal_middle_name, legal_last_name, date_of_birth,
    expected_graduation_year, street, city, state, zip_code, phone, email, free_reduced_lunch,
    guardian_name, guardian_email, created_at, updated_at, school_id, user_id)
SELECT
    i,
    'TP3-' || substr(lpad((i - 1)::text, 6, '0'), 1, 2) || '-'
        || substr(lpad((i - 1)::text, 6, '0'), 3, 4),
    (ARRAY['Ava', 'Liam', 'Sofía', 'Noah', 'Mei', 'Mateo', 'Aaliyah', 'Dmitri', 'Zoë', 'Kai'])
        [1 + i %% 10],
    CASE WHEN i %% 3 = 0 THEN '' ELSE (ARRAY['Grace', 'James', 'Lee', 'Marie', 'Ray'])[1 + i %% 5] END,
    (ARRAY['Nguyễn', 'Smith', 'García', 'O''Brien', 'Kim', 'Johnson', 'Patel', 'Müller',
           'Lopez-Reyes', 'Williams', 'Chen', 'Okafor'])[1 + (i / 10) %% 12],
    date '2007-09-01' + (i %% 1461),
    2026 + i %% 4,
    (100 + i %% 19900)::text || ' '
        || (ARRAY['NE 8th St', 'Main St', 'Bellevue Way NE', '148th Ave SE', 'Lake Hills Blvd'])
        [1 + i %% 5],
    (ARRAY['Bellevue', 'Redmond', 'Kirkland', 'Issaquah'])[1 + i %% 4],
    'WA',
    (98004 + i %% 60)::text,
    '425-555-' || lpad((i %% 10000)::text, 4, '0'),
    'bench' || i || '@example.org',
    i %% 5 = 0,
    '',
    '',
    now(),
    now(),
    %(school)s,
    %(base)s + i
FROM generate_series(1, %(n)s) AS i
"""

INSERT_REGISTRATIONS = """
INSERT INTO registration_registration (
    id, status, is_late, late_fee_waived, grade, grade_posted_at, registered_at, updated_at,
    status_reason, articulation_id, changed_by_id, course_class_id, school_year_id, student_id,
    enrollment, enrollment_decided_at)
SELECT
    i, 'registered', false, false, (ARRAY['A', 'A-', 'B+', 'B', 'B-', 'C+', 'C'])[1 + i %% 7],
    now(), now(), now(), '', %(articulation)s, NULL, %(class)s, %(year)s, i,
    'confirmed', now()
FROM generate_series(1, %(n)s) AS i
"""

INSERT_CREDITS = """
INSERT INTO grading_credit (
    id, college_course, college_course_title, college_credits, grade, earned_on, college_id,
    registration_id, school_year_id, student_id, exported_batch_id)
SELECT
    i, %(course)s, %(title)s, %(credits)s, (ARRAY['A', 'A-', 'B+', 'B', 'B-', 'C+', 'C'])[1 + i %% 7],
    date '2026-06-12' + (i %% 10), %(college)s, i, %(year)s, i, NULL
FROM generate_series(1, %(n)s) AS i
"""

BULK_TABLES = [
    "auth_user",
    "students_student",
    "registration_registration",
    "grading_credit",
]


def current_rows() -> tuple[int | None, int]:
    """The bench college's id and how many credits it has (-1: the data is not whole)."""
    from articulations.models import College
    from grading.models import Credit
    from registration.models import Registration
    from students.models import Student

    college = College.objects.filter(code=COLLEGE_CODE).first()
    if college is None:
        return None, 0
    credits = Credit.objects.filter(college=college).count()
    whole = (
        credits == Credit.objects.count() == Student.objects.count() == Registration.objects.count()
    )
    return college.pk, credits if whole else -1


def empty_bench_tables() -> None:
    """TRUNCATE everything the benchmark made; checked twice to be the bench database."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database()")
        (name,) = cursor.fetchone()
        if not name.endswith("bench"):
            raise SystemExit(f"Refusing to empty {name!r}: not a bench database.")
        cursor.execute("SELECT count(*) FROM auth_user WHERE username NOT LIKE %s", ["bench%"])
        (others,) = cursor.fetchone()
        if others:
            raise SystemExit(
                f"Refusing to empty {name!r}: it has {others} users the benchmark did not make."
            )
        # CASCADE reaches every table that refers to these: registrations, credits, batches…
        cursor.execute(
            "TRUNCATE auth_user, articulations_college, articulations_consortium, "
            "articulations_schoolyear, articulations_careercluster RESTART IDENTITY CASCADE"
        )


def build_catalog() -> dict:
    """The least catalog a credit needs, made with the ORM."""
    from decimal import Decimal

    from django.contrib.auth import get_user_model

    from articulations.models import (
        Articulation,
        CareerCluster,
        Class,
        College,
        Consortium,
        School,
        SchoolDistrict,
        SchoolYear,
        Teacher,
    )

    user_model = get_user_model()
    year = SchoolYear.objects.create(start_year=2025)
    college = College.objects.create(name="Bench Community College", code=COLLEGE_CODE)
    consortium = Consortium.objects.create(
        name="Bench Consortium",
        host_college=college,
        mailing_address="3000 Landerholm Circle SE\nBellevue, WA 98007",
        contact_email="bench@example.org",
        contact_phone="425-555-0100",
    )
    district = SchoolDistrict.objects.create(name="Bench School District", consortium=consortium)
    school = School.objects.create(
        name="Bench High School", district=district, consortium=consortium
    )
    cluster = CareerCluster.objects.create(
        name="Business Management", field=CareerCluster.Field.BUSINESS
    )
    articulation = Articulation.objects.create(
        consortium=consortium,
        hs_course_name="Business Foundations",
        hs_course_number="BUS100",
        district=district,
        hs_credits=Decimal("0.5"),
        college=college,
        college_course_prefix="BUS",
        college_course_number="101",
        college_course_title="Introduction to Business",
        college_credits=Decimal("5.0"),
        career_cluster=cluster,
        valid_from=year,
        status=Articulation.Status.ACTIVE,
    )
    teacher_user = user_model.objects.create_user(
        "bench_teacher", first_name="Pat", last_name="Okafor"
    )
    teacher = Teacher.objects.create(user=teacher_user, approved_on=dt.date(2025, 8, 1))
    teacher.schools.add(school)
    course_class = Class.objects.create(
        teacher=teacher, school=school, school_year=year, term="Fall", period="3"
    )
    course_class.articulations.add(articulation)
    user_model.objects.create_user("bench_registrar", first_name="Robin", last_name="Registrar")
    return {
        "college": college.pk,
        "school": school.pk,
        "articulation": articulation.pk,
        "class": course_class.pk,
        "year": year.pk,
        "course": articulation.college_course,
        "title": articulation.college_course_title,
        "credits": articulation.college_credits,
    }


def build_rows(n: int, catalog: dict) -> None:
    from django.db import DatabaseError, connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        # Bench database only: skip the per-row FK triggers (rows are consistent by construction).
        # That takes a superuser; any other role builds with the checks, only slower.
        try:
            with transaction.atomic():
                cursor.execute("SET LOCAL session_replication_role = replica")
        except DatabaseError:
            print("    (not a superuser: foreign keys are checked row by row, the build is slower)")
        cursor.execute("SET LOCAL synchronous_commit = off")
        cursor.execute("SELECT coalesce(max(id), 0) FROM auth_user")
        (base,) = cursor.fetchone()
        params = {**catalog, "n": n, "base": base}
        for table, statement in zip(
            BULK_TABLES,
            [INSERT_USERS, INSERT_STUDENTS, INSERT_REGISTRATIONS, INSERT_CREDITS],
            strict=True,
        ):
            started = time.perf_counter()
            cursor.execute(statement, params)
            print(
                f"    {table:<28} {n:>9,} rows  {time.perf_counter() - started:6.1f} s", flush=True
            )
        # Explicit ids were inserted: move the identity sequences past them.
        for table in BULK_TABLES:
            top = f"SELECT coalesce(max(id), 0) + 1 FROM {table}"  # noqa: S608 - table names are the constants above
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence(%s, 'id'), ({top}), false)", [table]
            )


def vacuum() -> None:
    """Hint bits, visibility map, statistics and a checkpoint: the timed reads start from quiet."""
    from django.db import DatabaseError, connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        for table in BULK_TABLES:
            cursor.execute("VACUUM (ANALYZE) " + table)  # constant table names
        # Writes the freshly built pages now rather than during a timed export. It needs
        # superuser or pg_checkpoint; without it the numbers are only noisier.
        with contextlib.suppress(DatabaseError):
            cursor.execute("CHECKPOINT")
    print(
        f"    VACUUM (ANALYZE), CHECKPOINT             {time.perf_counter() - started:6.1f} s",
        flush=True,
    )


def ensure_rows(n: int) -> int:
    """The bench college's id, with exactly ``n`` credits: reused if there, rebuilt if not."""
    from credit_lists.models import ExportBatch
    from grading.models import Credit

    college_id, rows = current_rows()
    if college_id is not None and rows == n:
        # A run stopped halfway through the end-to-end export may have left its marks.
        if ExportBatch.objects.exists():
            Credit.objects.filter(exported_batch__isnull=False).update(exported_batch=None)
            ExportBatch.objects.all().delete()
        print(f"  reusing {n:,} credits already in the database", flush=True)
        return college_id
    print(f"  building {n:,} credits (had {max(rows, 0):,})", flush=True)
    started = time.perf_counter()
    empty_bench_tables()
    catalog = build_catalog()
    build_rows(n, catalog)
    vacuum()
    print(f"  built in {time.perf_counter() - started:.1f} s", flush=True)
    return catalog["college"]
