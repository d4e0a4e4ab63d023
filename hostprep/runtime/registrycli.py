"""The CLI's `pull`, `push`, `login` and `logout`: errors as one line each, secrets never shown."""

import sys

from hostprep.runtime import auth, registry


def main(opts, store, root):
    try:
        if opts.command == "pull":
            digest = registry.pull(store, root, opts.image, plain_http=opts.plain_http, out=sys.stdout)
            print(digest)
        elif opts.command == "push":
            registry.push(store, root, opts.image, opts.destination, plain_http=opts.plain_http, out=sys.stdout)
        elif opts.command == "login":
            password = opts.password
            if opts.password_stdin:
                password = sys.stdin.readline().rstrip("\r\n")
            elif password is None:
                import getpass

                password = getpass.getpass("Password: ")
            if not password:
                print("hostprep-runtime: login: an empty password", file=sys.stderr)
                return 1
            registry.login(root, opts.server, opts.username, password, plain_http=opts.plain_http)
            print("Login Succeeded")
        else:
            if not auth.remove_credentials(root, opts.server):
                print("hostprep-runtime: not logged in to {}".format(opts.server), file=sys.stderr)
                return 1
            print("Removing login credentials for {}".format(opts.server))
    except registry.RegistryError as exc:
        print("hostprep-runtime: {}: {}".format(opts.command, exc), file=sys.stderr)
        return 1
    return 0
