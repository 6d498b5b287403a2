"""Database access: connections, migrations and all SQL, one module per table group.

Business code calls the functions in these modules with a connection; SQL lives nowhere else.
"""
