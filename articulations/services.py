"""Rules for changing the catalog."""

from collections.abc import Iterable

from articulations.models import Articulation, School, SchoolYear, Teacher


def class_offer_problems(
    *,
    school: School,
    school_year: SchoolYear,
    teacher: Teacher | None,
    articulations: Iterable[Articulation],
) -> list[str]:
    """Why these articulations cannot be offered as one class, in words staff can act on.

    A class is one high-school course: it may offer several colleges, one
    articulation each, all valid in the class's school year and all covering
    its school. The database cannot check rules across these rows, so the admin
    form and the CSV import both ask here before saving.
    """
    articulations = list(articulations)
    if not articulations:
        return ["Choose at least one articulation."]
    problems = []
    course_numbers = {articulation.hs_course_number for articulation in articulations}
    if len(course_numbers) > 1:
        problems.append(
            "All articulations of a class must be the same high-school course; "
            f"these are courses {', '.join(sorted(course_numbers))}."
        )
    colleges = [articulation.college_id for articulation in articulations]
    if len(colleges) != len(set(colleges)):
        problems.append("Choose one articulation per college: a student earns credit from one.")
    for articulation in articulations:
        if articulation.status == Articulation.Status.PENDING:
            problems.append(f"{articulation} is still pending approval.")
        if not articulation.is_valid_in(school_year.start_year):
            problems.append(
                f"{articulation} is valid {articulation.validity_label}, not in {school_year.label}."
            )
        if not _covers_school(articulation, school):
            problems.append(f"{articulation} does not apply to {school}.")
    if teacher is not None and not teacher.schools.filter(pk=school.pk).exists():
        problems.append(f"{teacher} does not teach at {school}.")
    return problems


def _covers_school(articulation: Articulation, school: School) -> bool:
    if articulation.district_id is not None and articulation.district_id == school.district_id:
        return True
    return articulation.schools.filter(pk=school.pk).exists()
