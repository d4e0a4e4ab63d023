"""`hostprep doc [MODULE]`: modules, their arguments and examples, from the modules' own definitions."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table


@click.command("doc")
@click.argument("module", required=False)
def command(module: str | None) -> None:
    """List modules, or show one module's arguments, return values and examples."""
    from hostprep.modules import get_module, module_names
    from hostprep.modules.returns import returns

    console = Console()
    if not module:
        table = Table(title="hostprep modules")
        table.add_column("module")
        table.add_column("what it does")
        for name in module_names():
            cls = get_module(name)
            table.add_row(name, (cls.doc or "").split(". ")[0])
        console.print(table)
        return
    cls = get_module(module)
    if cls is None:
        raise click.ClickException(f"no module named {module!r} (hostprep doc lists them)")
    console.print(f"[bold]{cls.name}[/bold]" + (f" (also: {', '.join(cls.aliases)})" if cls.aliases else ""))
    console.print(cls.doc)
    table = Table(title="arguments")
    for col in ("name", "type", "required", "default", "choices", "aliases", "description"):
        table.add_column(col)
    for name, arg in sorted(cls.args.items()):
        table.add_row(name, arg.type + (f"[{arg.elements}]" if arg.elements else ""), "yes" if arg.required else "",
                      "" if arg.default in (None, [], "") else repr(arg.default),
                      ", ".join(map(str, arg.choices or ())), ", ".join(arg.aliases), arg.doc)
    console.print(table)
    results = Table(title="return values (the registered result)")
    for col in ("key", "type", "returned", "description"):
        results.add_column(col)
    for row in returns(cls.name):
        results.add_row(*row)
    console.print(results)
    if cls.examples:
        console.print("[bold]Examples[/bold]")
        console.print(cls.examples, markup=False, highlight=False)
