"""Bundled targets: servers loadkit tests run against; loadkit core never imports them."""
