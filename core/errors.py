"""One exception type for problems the user can fix.

Pages show its message in an `st.error`/`st.warning`; the CLI prints it as one line and exits 2.
Anything else escaping is a bug.
"""


class UserError(Exception):
    """A friendly, complete sentence telling the user what went wrong and what to do."""
