"""The Dockerfile corpus `hostprep-runtime build` is compared with `podman build` on (test_build_oracle.py).

Each case: a Dockerfile (BASE stands for the busybox image, named differently in each tool's store), the files
of its context (text, or (text, mode)), and optionally build args, a target stage, a .dockerignore, and the
config fields where podman is known to differ from Docker: {field: (Docker's value, podman's value)}.

Docker's rules podman does not follow are tested without the peer (test_build_rules.py): EXPOSE of a range
gives one port each (podman keeps "8000-8002/tcp"); with `# escape=`` an ENV value's `$ is a plain $ (podman
keeps the backtick alone).
"""

from __future__ import annotations

CASES: dict[str, dict] = {
    "from_only": {"Dockerfile": "FROM BASE\n"},
    "scratch_copy": {"Dockerfile": "FROM scratch\nCOPY a.txt /a.txt\nCOPY d /d/\n",
                     "files": {"a.txt": "alpha\n", "d/x": ("x\n", 0o600), "d/e/y": "y\n"}},
    "run_shell_form": {"Dockerfile": "FROM BASE\nRUN echo hello > /hello && mkdir -p /opt/a/b && "
                                     "chmod 0750 /opt/a\n"},
    "run_exec_form": {"Dockerfile": 'FROM BASE\nRUN ["/bin/sh", "-c", "echo exec > /exec.txt"]\n'
                                    'RUN ["touch", "/touched"]\n'},
    "run_deletes_file_and_dir": {"Dockerfile": "FROM BASE\nRUN mkdir -p /x/y && echo 1 > /x/y/f && echo 2 > /keep\n"
                                               "RUN rm -rf /x /data && rm /etc/group\n"},
    "run_opaque_dir": {"Dockerfile": "FROM BASE\nRUN mkdir /o && touch /o/a /o/b\n"
                                     "RUN rm -rf /o && mkdir /o && touch /o/c\n"},
    "run_user_and_workdir": {"Dockerfile": "FROM BASE\nUSER app\nWORKDIR /home/app/work\n"
                                           "RUN id > ids && touch mine\nUSER root\nRUN chown app /home/app/work/ids\n"},
    "workdir_relative": {"Dockerfile": "FROM BASE\nWORKDIR /a\nWORKDIR b\nWORKDIR ../c\nRUN pwd > /pwd.txt\n"},
    "env_forms": {"Dockerfile": 'FROM BASE\nENV A=1 B="two words" C=\'single $A\'\nENV LEGACY value with spaces\n'
                                "ENV D=${A}x E=${NOPE:-dflt} F=${A:+set}\nRUN echo \"$A|$B|$C|$D|$E|$F\" > /env.txt\n"},
    "arg_before_and_after_from": {"Dockerfile": "ARG TAG=1\nARG WHERE=/from-global\nFROM BASE\nARG WHERE\n"
                                                "ARG MODE=dflt\nRUN echo \"$WHERE $MODE $TAG\" > /args.txt\n"
                                                "ENV M=$MODE\n",
                                  "args": ["MODE=given"]},
    "copy_chown_chmod": {"Dockerfile": "FROM BASE\nCOPY --chown=app:app a.txt /srv/\n"
                                       "COPY --chmod=0640 b.sh /usr/local/bin/b.sh\n"
                                       "COPY --chown=1000:0 --chmod=755 d /opt/d\n",
                         "files": {"a.txt": "a\n", "b.sh": ("#!/bin/sh\necho b\n", 0o755), "d/f": ("f\n", 0o600),
                                   "d/s/g": "g\n"}},
    "copy_globs": {"Dockerfile": "FROM BASE\nCOPY *.conf /etc/app/\nCOPY src/??.txt /t/\n"
                                 "COPY [\"sp ace.txt\", \"/sp/\"]\n",
                   "files": {"a.conf": "a\n", "b.conf": "b\n", "c.txt": "c\n", "src/ab.txt": "ab\n",
                             "src/abc.txt": "abc\n", "sp ace.txt": "s\n"}},
    "copy_dir_contents_and_rename": {"Dockerfile": "FROM BASE\nCOPY tree /dst\nCOPY tree/file /renamed\n"
                                                   "COPY tree /dst2/\n",
                                     "files": {"tree/file": "f\n", "tree/sub/inner": ("i\n", 0o700),
                                               "tree/sub/deeper/x": "x\n"}},
    "copy_symlinks_inside": {"Dockerfile": "FROM BASE\nCOPY d /d\nCOPY link /followed\n",
                             "files": {"d/real": "r\n", "real2": "r2\n"},
                             "links": {"d/rel": "real", "d/dangling": "nowhere", "link": "real2"}},
    "dockerignore_rules": {"Dockerfile": "FROM BASE\nCOPY . /ctx/\n",
                           "files": {"keep.txt": "k\n", "skip.log": "s\n", "logs/a.log": "a\n", "logs/keep.me": "m\n",
                                     "deep/x/y/secret.key": "k\n", "deep/x/y/ok": "o\n", "tmp/t": "t\n",
                                     "Dockerfile.extra": "d\n"},
                           "dockerignore": "# comment\n*.log\n**/*.key\ntmp\n!logs/keep.me\nlogs/*.log\n"
                                           "Dockerfile.*\n"},
    "dockerignore_reinclude": {"Dockerfile": "FROM BASE\nCOPY . /c/\n",
                               "files": {"a/1": "1\n", "a/2": "2\n", "b/3": "3\n"},
                               "dockerignore": "a\n!a/2\n/b/3\n"},
    "add_local_tar": {"Dockerfile": "FROM BASE\nADD bundle.tar /opt/\nADD bundle.tar.gz /opt/gz/\n"
                                    "ADD plain.txt /plain.txt\n",
                      "files": {"plain.txt": "p\n"}, "tars": ["bundle.tar", "bundle.tar.gz"]},
    # an archive's entries keep their own owners and modes; --chown/--chmod reach only what the ADD creates
    "add_tar_chown_chmod": {"Dockerfile": "FROM BASE\nADD --chown=1000:1000 --chmod=0600 bundle.tar /own/\n",
                            "tars": ["bundle.tar"]},
    "expose_volume_labels": {"Dockerfile": "FROM BASE\nEXPOSE 80 443/tcp 53/udp\nVOLUME /data\n"
                                           'VOLUME ["/var/a", "/var/b"]\nLABEL a=1 "b c"="d e"\n'
                                           "LABEL version=2.0\nSTOPSIGNAL SIGINT\n"},
    "cmd_entrypoint_exec": {"Dockerfile": 'FROM BASE\nENTRYPOINT ["/bin/echo", "hi"]\nCMD ["there"]\n'},
    "cmd_entrypoint_shell": {"Dockerfile": "FROM BASE\nCMD echo from cmd\nENTRYPOINT echo from ep\n"},
    "entrypoint_resets_base_cmd": {"Dockerfile": "FROM BASE AS one\nCMD [\"a\"]\nFROM one\n"
                                                 "ENTRYPOINT [\"/bin/ls\"]\n"},
    "shell_instruction": {"Dockerfile": 'FROM BASE\nSHELL ["/bin/sh", "-ec"]\nRUN echo $0 > /shell.txt\n'
                                        "CMD plain\n",
                          # Docker: SHELL applies to the shell form of CMD and ENTRYPOINT too; buildah's does not
                          "deviations": {"Cmd": (["/bin/sh", "-ec", "plain"], ["/bin/sh", "-c", "plain"])}},
    "healthcheck": {"Dockerfile": "FROM BASE\nHEALTHCHECK --interval=30s --timeout=5s --retries=3 "
                                  "CMD wget -q localhost || exit 1\nFROM BASE\nHEALTHCHECK NONE\n"},
    "healthcheck_exec": {"Dockerfile": 'FROM BASE\nHEALTHCHECK --start-period=1m30s CMD ["true"]\n'},
    "multi_stage_copy_from": {"Dockerfile": "FROM BASE AS build\nRUN mkdir /out && echo built > /out/app && "
                                            "chown 1000:1000 /out/app\nFROM BASE\n"
                                            "COPY --from=build /out/app /usr/local/bin/app\n"
                                            "COPY --from=0 /out /out2\n"},
    "multi_stage_target": {"Dockerfile": "FROM BASE AS a\nRUN touch /from-a\nFROM a AS b\nRUN touch /from-b\n"
                                         "FROM BASE AS c\nRUN touch /from-c\n",
                           "target": "b"},
    "copy_from_image": {"Dockerfile": "FROM scratch\nCOPY --from=BASE /bin/busybox /bin/busybox\n"
                                      "COPY --from=BASE /etc/passwd /etc/\n"},
    "continuations_comments_escape": {"Dockerfile": "# escape=`\nFROM BASE\nRUN echo one `\n# a comment inside\n"
                                                    "    two > /c.txt\nENV P=C:/path\n"},
    "lowercase_and_continuation": {"Dockerfile": "from BASE\nrun mkdir /l && \\\n  touch /l/a \\\n  /l/b\n"
                                                 "env X=\\$notvar\n"},
    "user_numeric_and_env_in_paths": {"Dockerfile": "FROM BASE\nENV DIR=/srv/app U=1000\nWORKDIR $DIR\n"
                                                    "COPY f ${DIR}/f\nUSER ${U}:1000\n",
                                      "files": {"f": "f\n"}},
    "copy_through_image_symlinks": {"Dockerfile": "FROM BASE\nRUN mkdir -p /real/in && ln -s real /alias && "
                                                  "ln -s /real/in /abs\nCOPY a.txt /alias/\n"
                                                  "COPY a.txt /alias/sub/b.txt\nCOPY a.txt /abs/c.txt\n"
                                                  "COPY d /alias/d2\n",
                                    "files": {"a.txt": "a\n", "d/x": "x\n"}},
    "maintainer": {"Dockerfile": "FROM BASE\nMAINTAINER someone <s@example.org>\n"},
}
