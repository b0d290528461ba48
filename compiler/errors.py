"""NCSDK toolkit error numbers and texts, in one table.

Every failure a user can cause is a CompileError; the command line prints its
str (``[Error N] Toolkit Error: <text>``) and exits with status 2.
"""

MESSAGES = {
    4: "Stage Type Not Supported: {detail}",
    5: "Stage Details Not Supported: {detail}",
    8: "Network file does not exist: {detail}",
    9: "Weights file does not exist: {detail}",
    13: ("Provided OutputNode/InputNode name does not exist or does not "
         "match with one contained in model file Provided: {detail}"),
    22: "Invalid input file, cannot parse: {detail}",
    24: "Batch size must be 1: {detail}",
    27: "Invalid number of shaves: {detail} (must be 1 to 12)",
    30: "Unsupported input file type: {detail}",
    34: ("Unresolved placeholder: {detail} (only the network input may be a "
         "placeholder; freeze switches such as keep_prob or is_training)"),
    35: "Not enough resources on Myriad to process this network{detail}",
}

STAGE_TYPE = 4
STAGE_DETAILS = 5
NETWORK_FILE = 8
WEIGHTS_FILE = 9
NODE_NAME = 13
INVALID_FILE = 22
BATCH_SIZE = 24
SHAVES = 27
FILE_TYPE = 30
PLACEHOLDER = 34
RESOURCES = 35


class CompileError(Exception):
    """A user-caused failure with its NCSDK error number."""

    def __init__(self, number, detail=""):
        self.number = number
        self.detail = detail
        self.text = MESSAGES[number].format(detail=detail)
        super().__init__(str(self))

    def __str__(self):
        return f"[Error {self.number}] Toolkit Error: {self.text}"


def fail(number, detail=""):
    raise CompileError(number, detail)
