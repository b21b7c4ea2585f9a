"""Save the parser's tables next to the grammar; run ``python grammar/save_tables.py`` after edits.

A test fails while the saved tables are not those of the grammar; see ``projection/_grammar.py``.
"""

from projection._grammar import TABLES_FILE, repository_data_file, save_tables

if __name__ == "__main__":
    save_tables(repository_data_file(TABLES_FILE))
