"""shegong's edge: the FastAPI app, the WeChat and WeCom webhooks, the dispatcher and the command line."""
