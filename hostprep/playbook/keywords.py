"""Which keywords hostprep accepts where: Ansible's names; anything else is refused up front."""

from __future__ import annotations

COMMON = {
    "name", "when", "become", "become_user", "become_method", "become_flags", "tags", "vars", "environment",
    "ignore_errors", "ignore_unreachable", "check_mode", "no_log", "run_once", "delegate_to", "any_errors_fatal",
    "diff", "collections", "module_defaults", "debugger", "throttle", "timeout", "remote_user", "connection",
}

TASK = COMMON | {
    "loop", "loop_control", "with_items", "with_list", "with_dict", "with_indexed_items", "with_together",
    "with_fileglob", "with_first_found", "with_flattened", "with_subelements", "with_nested", "with_cartesian",
    "with_sequence", "with_random_choice", *(f"with_{name}" for name in ("lines", "inventory_hostnames", "env",
                                                                        "file", "pipe", "template", "vars",
                                                                        "varnames", "csvfile", "ini", "url",
                                                                        "unvault")),
    "register", "notify", "changed_when", "failed_when",
    "until", "retries", "delay", "args", "action", "local_action", "listen", "delegate_facts", "async", "poll",
}

# keywords accepted by the parser but refused when used, with the reason (never silently ignored)
UNSUPPORTED_TASK = {
    "async": "async tasks are not supported by hostprep",
    "poll": "async tasks are not supported by hostprep",
    "module_defaults": "module_defaults is not supported by hostprep",
    "debugger": "the task debugger is not supported by hostprep",
    "collections": None,  # accepted: names are resolved as ansible.builtin anyway
    "throttle": None,
    # Ansible ends a task that runs longer than `timeout` seconds; hostprep cannot stop a task midway
    "timeout": "the timeout keyword (a time limit for the task) is not supported by hostprep",
    "diff": None,
}

BLOCK = COMMON | {"block", "rescue", "always", "notify"}

PLAY = {
    "name", "hosts", "vars", "vars_files", "vars_prompt", "become", "become_user", "become_method", "become_flags",
    "gather_facts", "pre_tasks", "roles", "tasks", "post_tasks", "handlers", "serial", "max_fail_percentage",
    "any_errors_fatal", "ignore_unreachable", "ignore_errors", "environment", "tags", "check_mode", "no_log",
    "strategy", "order", "force_handlers", "connection", "remote_user", "port", "collections", "diff",
    "gather_subset", "gather_timeout", "module_defaults", "run_once", "timeout", "throttle",
}

UNSUPPORTED_PLAY = {
    "vars_prompt": "vars_prompt is not supported by hostprep (pass values with -e)",
    "module_defaults": "module_defaults is not supported by hostprep",
    "timeout": "the timeout keyword (a time limit for each task) is not supported by hostprep",
}

ROLE_ENTRY = {"role", "name", "when", "tags", "vars", "become", "become_user", "ignore_errors", "environment",
              "remote_user", "connection",
              "delegate_to", "no_log", "check_mode", "public", "tasks_from", "vars_from", "defaults_from",
              "handlers_from"}

LOOP_KEYWORDS = ("loop", "with_items", "with_list", "with_dict", "with_indexed_items", "with_together",
                 "with_fileglob", "with_first_found", "with_flattened", "with_subelements", "with_nested",
                 "with_cartesian", "with_sequence", "with_random_choice", "with_lines", "with_inventory_hostnames",
                 "with_env", "with_file", "with_pipe", "with_template", "with_vars", "with_varnames", "with_csvfile",
                 "with_ini", "with_url", "with_unvault")

INCLUDES = {"include_tasks", "import_tasks", "include_role", "import_role", "import_playbook", "include"}
