"""The options of `hostprep-runtime run`, apart from the command line that fills them.

A leaf module: the CLI fills them from the arguments, a build's RUN step (buildrun.py) fills them
itself, and neither has to import the other.
"""


class RunOptions:
    """What argparse's `run` subcommand yields, made without argparse."""

    def __init__(self):
        self.command = "run"
        self.rm = self.detach = self.read_only = self.init = self.interactive = self.tty = False
        self.name = self.workdir = self.user = self.hostname = self.memory = None
        self.cpus = self.pids_limit = self.entrypoint = None
        self.env = self.volume = self.security_opt = None
        self.publish = self.network_alias = self.dns = self.dns_search = self.dns_option = self.add_host = None
        self.publish_all = False
        self.ip = None
        self.network = "none"
        self.image = None
        self.cmd = []
