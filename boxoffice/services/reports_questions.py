"""The business questions: one query per file in sql/questions/, each answered through the read-only
reporting user.

A question file starts with a header of comment lines, then holds one SELECT:

    -- Question: Which venues fill best?
    -- About: What the answer counts, in a sentence.
    -- Columns: venue, events:count, occupancy_pct:percent

`Columns` names the query's columns in order with how each reads (see reports_figures.KINDS; text when
left out). A query whose columns differ from its header is refused, so the page and the SQL cannot drift.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..sqlfiles import SQL_DIR
from . import replica
from .reports_figures import Column, Table

QUESTIONS_DIR = SQL_DIR / "questions"
HEADER = re.compile(r"^--\s*(Question|About|Columns):\s*(.+?)\s*$")
# Words kept as they are in a column heading made from a column name.
LABEL_WORDS = {"pct": "", "vip": "VIP", "utc": "(UTC)"}


class UnknownQuestion(LookupError):
    """No question file has this name."""


class MalformedQuestion(ValueError):
    """A question file's header is missing a part, or does not match what its query returns."""


@dataclass(frozen=True)
class Question:
    name: str
    question: str
    about: str
    columns: tuple[Column, ...]
    sql: str


def _label(key: str) -> str:
    words = [LABEL_WORDS.get(word, word) for word in key.split("_")]
    return " ".join(word for word in words if word).capitalize().replace("vip", "VIP")


def parse(path: Path) -> Question:
    """A question from its file. Raises MalformedQuestion."""
    header: dict[str, str] = {}
    body: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        match = HEADER.match(line)
        if match and not body:
            header[match.group(1)] = match.group(2)
        elif line.strip() and not (line.startswith("--") and not body):
            body.append(line)
    missing = {"Question", "About", "Columns"} - header.keys()
    if missing or not body:
        raise MalformedQuestion(f"{path.name}: the header needs {', '.join(sorted(missing)) or 'a query after it'}")
    columns = []
    for spec in header["Columns"].split(","):
        key, _, kind = spec.strip().partition(":")
        columns.append(Column(key, _label(key), kind or "text"))
    return Question(path.stem.replace("_", "-"), header["Question"], header["About"], tuple(columns),
                    "\n".join(body).rstrip().rstrip(";"))


def questions() -> list[Question]:
    """Every question, in file-name order."""
    return [parse(path) for path in sorted(QUESTIONS_DIR.glob("*.sql"))]


def answer(question: Question) -> Table:
    """The question's answer, read through the reporting user. Raises MalformedQuestion if the query's
    columns are not the ones its header names."""
    # On the reports' replica when it is fresh enough (boxoffice/services/replica.py).
    with replica.reports_source().engine.connect() as connection:
        # The DB-API cursor, without parameters: the SQL is sent exactly as written ('%' and ':' included).
        cursor = connection.connection.dbapi_connection.cursor()
        try:
            cursor.execute(question.sql)
            keys = [description[0] for description in cursor.description]
            rows = [dict(zip(keys, row)) for row in cursor.fetchall()]
        finally:
            cursor.close()
    if keys != [column.key for column in question.columns]:
        raise MalformedQuestion(f"{question.name}: the query returns {keys}, its header names "
                                f"{[column.key for column in question.columns]}")
    return Table(f"question-{question.name}", question.question, question.columns, rows, note=question.about)


def answers() -> list[tuple[Question, Table]]:
    """Every question with its answer."""
    return [(question, answer(question)) for question in questions()]


def answer_named(name: str) -> Table:
    """One question's answer by its name (the file name with dashes). Raises UnknownQuestion."""
    for question in questions():
        if question.name == name:
            return answer(question)
    raise UnknownQuestion(name)
