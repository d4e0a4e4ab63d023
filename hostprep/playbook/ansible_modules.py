"""Names of modules Ansible users call that hostprep may not have.

A task that names one of these (or any `namespace.collection.module` name) and that hostprep has no
module for is not a typo: it is refused when, and only when, the task is reached (as Ansible reports a
module missing from an included file), so a multi-OS role's branch for another distribution does not
stop an EL run. A short name outside this list is taken as a typo and refused at load time.
"""

from __future__ import annotations

# ansible-core's modules (ansible.builtin) and the collection modules public roles use most
_NAMES = """
add_host apt apt_key apt_repository assemble assert async_status blockinfile command copy cron
deb822_repository debconf debug dnf dnf5 dpkg_selections expect fail fetch file find gather_facts get_url
getent git group group_by hostname include_vars iptables known_hosts lineinfile meta mount_facts package
package_facts pause ping pip raw reboot replace rpm_key script service service_facts set_fact set_stats setup
shell slurp stat subversion systemd systemd_service sysvinit tempfile template unarchive uri user
validate_argument_spec wait_for wait_for_connection yum yum_repository
acl at authorized_key firewalld firewalld_info mount patch seboolean selinux synchronize sysctl
alternatives apk archive capabilities composer cpanm dconf filesystem flatpak flatpak_remote gem git_config
homebrew homebrew_cask htpasswd ini_file interfaces_file java_cert jira kernel_blacklist locale_gen lvg lvol
make modprobe nmcli npm ohai open_iscsi openbsd_pkg osx_defaults pacman pam_limits pamd parted pear pkg5
pkgin pkgng pkgutil portage python_requirements_info redhat_subscription rhsm_repository rpm_ostree_pkg
runit sefcontext selinux_permissive seport snap solaris_zone sudoers svc swapfile sysrc timezone ufw
xattr xml yarn zfs zypper zypper_repository zypper_repository_info
docker_container docker_image docker_network docker_volume docker_compose docker_compose_v2 docker_login
mysql_db mysql_user postgresql_db postgresql_user
"""
ANSIBLE_MODULES = frozenset(_NAMES.split())  # noqa: SIM905 - a word list reads better than a literal


def is_known_ansible_module(name: str) -> bool:
    """True for a module name Ansible users could mean (FQCN of any collection, or a known short name)."""
    if name.count(".") >= 2:
        return True
    return name in ANSIBLE_MODULES


def close_names(name: str, candidates: list[str]) -> list[str]:
    """Up to three module names that look like `name` (for 'did you mean')."""
    short = name.rsplit(".", 1)[-1]
    import difflib  # only when a name is wrong: its import costs every run otherwise

    return difflib.get_close_matches(short, candidates, n=3, cutoff=0.6)
