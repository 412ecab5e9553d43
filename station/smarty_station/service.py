# `smarty-station run`: the collector, the web server and the mailer in one process,
# until SIGTERM or SIGINT.  Each part gets the plain values of its own table.

import logging
import threading

from .collect import Collector
from .mail import Mailer
from .store import Store
from .web import create_app, serve

log = logging.getLogger(__name__)


class Station:
    def __init__(self, config):
        if config.store is None:
            raise ValueError("store.path is missing")
        self.config = config
        Store(config.store.path).close()  # the schema, before any part opens it
        # the topics of this config's [[meters]] too, if it has some under other topics
        topics = [meter.topic for meter in config.read.meters] if config.read else []
        self.collector = Collector(config.mqtt, config.store, topics)
        self.server = None
        self.mailer = None
        if config.web:
            app = create_app(config.store.path, config.web.refresh)
            self.server = serve(app, config.web.host, config.web.port)
        if config.mail:
            self.mailer = Mailer(config.mail, lambda: Store(config.store.path))

    def run(self, stopping):
        self.collector.start()
        threads = []
        if self.server:
            thread = threading.Thread(target=self.server.run, name="web", daemon=True)
            thread.start()
            threads.append(thread)
            log.info("web page on http://%s:%d/", *self.server.socket.getsockname()[:2])
        if self.mailer:
            self.mailer.start()
        try:
            stopping.wait()
        finally:
            log.info("stopping")
            if self.mailer:
                self.mailer.stop()
            if self.server:
                self.server.close()
            self.collector.stop()
