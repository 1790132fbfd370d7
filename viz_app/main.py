"""Entry script for `panel serve` and `panel convert`: the whole app, servable."""

from viz_app.app import configure_process, create_app

configure_process()
create_app().servable(title="memviz")
