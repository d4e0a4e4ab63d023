"""Registry credentials and TLS trust, as Docker keeps them.

- `login` stores a registry's user and password in ROOT/auth.json (Docker's config.json `auths` layout,
  base64 "user:password"), a 0600 file written atomically; `logout` removes the entry. Nothing here prints a
  password or a token.
- A registry is reached over HTTPS, verified against the system's CA store plus `ca.crt` (and any `*.crt`)
  in a `certs.d/HOST:PORT/` directory: ROOT/certs.d, /etc/docker/certs.d, /etc/containers/certs.d.
- Plain HTTP only for a registry named in ROOT/registries.json's "insecure" list or given with --plain-http.
"""

import base64
import json
import os

CERT_DIRS = ("/etc/docker/certs.d", "/etc/containers/certs.d")


def _auth_path(root):
    return os.path.join(root, "auth.json")


def _load(root):
    try:
        with open(_auth_path(root), encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return {"auths": {}}
    except ValueError:
        raise ValueError("{} is not valid JSON".format(_auth_path(root)))
    if not isinstance(data, dict) or not isinstance(data.get("auths", {}), dict):
        raise ValueError("{}: no 'auths' object".format(_auth_path(root)))
    data.setdefault("auths", {})
    return data


def _save(root, data):
    path = _auth_path(root)
    os.makedirs(root, exist_ok=True)
    tmp = path + ".tmp-" + os.urandom(4).hex()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def credentials(root, host):
    """(user, password) stored for host, or None."""
    entry = _load(root)["auths"].get(host)
    if not entry or "auth" not in entry:
        return None
    try:
        user, _, password = base64.b64decode(entry["auth"]).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        raise ValueError("{}: the entry for {} is not base64 'user:password'".format(_auth_path(root), host))
    return user, password


def store_credentials(root, host, user, password):
    data = _load(root)
    data["auths"][host] = {"auth": base64.b64encode("{}:{}".format(user, password).encode()).decode()}
    _save(root, data)


def remove_credentials(root, host):
    data = _load(root)
    if host not in data["auths"]:
        return False
    del data["auths"][host]
    _save(root, data)
    return True


def ssl_context(root, host):
    """An SSL context verifying against the system store plus the host's certs.d CA files."""
    import ssl

    context = ssl.create_default_context()
    for base in (os.path.join(root, "certs.d"),) + CERT_DIRS:
        directory = os.path.join(base, host)
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        for name in names:
            if name.endswith(".crt"):
                context.load_verify_locations(cafile=os.path.join(directory, name))
    return context


def insecure(root, host):
    """Whether ROOT/registries.json allows plain HTTP for host."""
    try:
        with open(os.path.join(root, "registries.json"), encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return False
    return host in (data.get("insecure") or [])
