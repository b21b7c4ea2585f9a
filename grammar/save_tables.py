"""Save the parser's tables next to the grammar; run ``python grammar/save_tables.py`` after edits.

A test fails while the saved tables are not those of the grammar; see ``projection/_tables.py``.
"""

from projection import _grammar, _tables

if __name__ == "__main__":
    text = _tables.grammar_text()
    path = _tables.repository_data_file(_tables.TABLES_FILE)
    _tables.save(path, text, _grammar.OPTIONS, _grammar.build_parser(text))
