pytest_plugins = ["pytest_jupyter.jupyter_server", "jupyter_interview.pytest_plugin"]
