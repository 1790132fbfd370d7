"""Entry script for `panel serve` and `panel convert`: the whole app, servable."""

from viz_app.app import create_app

create_app().servable(title="memviz")
