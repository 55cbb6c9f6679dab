"""Runs the SQL files of sql/ the way the mariadb/mysql command-line client does.

The files are written for the client (so `mariadb boxoffice < sql/...` works): statements end with the
current delimiter, and `DELIMITER $$` switches it around trigger and procedure bodies. The client
strips DELIMITER lines itself before sending anything to the server, so we must do the same.
"""
from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Connection

from .config import PROJECT_ROOT

SQL_DIR = PROJECT_ROOT / "sql"


def split_statements(script: str) -> list[str]:
    """Split a client script into statements, honouring DELIMITER, quotes and comments."""
    statements: list[str] = []
    delimiter = ";"
    current: list[str] = []
    quote: str | None = None
    in_block_comment = False
    i = 0
    at_line_start = True
    n = len(script)
    while i < n:
        if at_line_start and quote is None and not in_block_comment:
            line_end = script.find("\n", i)
            line_end = n if line_end == -1 else line_end
            line = script[i:line_end].strip()
            if line.upper().startswith("DELIMITER ") and not "".join(current).strip():
                delimiter = line.split(None, 1)[1].strip()
                i = line_end + 1
                continue
        ch = script[i]
        at_line_start = ch == "\n"
        if in_block_comment:
            if script.startswith("*/", i):
                in_block_comment = False
                i += 2
            else:
                i += 1
            continue
        if quote is not None:
            current.append(ch)
            if ch == "\\" and quote != "`" and i + 1 < n:
                current.append(script[i + 1])
                i += 2
                continue
            if ch == quote:
                quote = None
            i += 1
            continue
        if ch in ("'", '"', "`"):
            quote = ch
            current.append(ch)
            i += 1
            continue
        if script.startswith("--", i) and (i + 2 >= n or script[i + 2] in " \t\r\n") or ch == "#":
            line_end = script.find("\n", i)
            i = n if line_end == -1 else line_end
            continue
        if script.startswith("/*", i):
            in_block_comment = True
            i += 2
            continue
        if script.startswith(delimiter, i):
            statement = "".join(current).strip()
            if statement:
                statements.append(statement)
            current = []
            i += len(delimiter)
            continue
        current.append(ch)
        i += 1
    tail = "".join(current).strip()
    if tail:
        statements.append(tail)
    return statements


def execute_script_statement(connection: Connection, statement: str) -> None:
    """Send one statement to the server exactly as written.

    Goes through the DB-API cursor with no parameters at all: PyMySQL would otherwise treat every
    `%` (DATE_FORMAT patterns, the '%' host of a user) as a placeholder.
    """
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        cursor.execute(statement)
        while cursor.nextset():
            pass
    finally:
        cursor.close()


def run_sql_file(connection: Connection, path: Path | str) -> int:
    """Execute every statement of a file in sql/ on the connection; returns how many ran."""
    path = Path(path)
    if not path.is_absolute():
        path = SQL_DIR / path
    statements = split_statements(path.read_text(encoding="utf-8"))
    # The statements go to the DB-API cursor directly; a transaction begun here makes the caller's
    # connection.commit() commit them.
    if not connection.in_transaction():
        connection.begin()
    for statement in statements:
        execute_script_statement(connection, statement)
    return len(statements)


def repeatable_object_files() -> list[Path]:
    """Views, triggers and procedures: re-applied after every upgrade, in file-name order."""
    return sorted((SQL_DIR / "objects").glob("*.sql"))
