"""The one exception type whose message is meant for people, not for a stack trace."""


class UserFacingError(Exception):
    """A failure the user can fix; its message is one line saying what happened and what to do.

    The CLI prints it without a traceback and exits 1; `detail` (a log tail, say) follows it.
    """

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail
