#!/usr/bin/env python3
"""Render deploy/nginx.conf.template for a set of app servers.

    deploy/render_nginx.py --out /etc/nginx/conf.d --listen 80 --app 10.0.0.11:8000 --app 10.0.0.12:8000 \\
        --static-root /srv/boxoffice/static --cache-dir /var/cache/nginx/boxoffice

writes boxoffice.conf (the http-level part: upstream, micro-cache, server) and the two files it includes
into --out. With --standalone it also writes a whole nginx.conf there, with its pid file, logs and temporary
folders inside --out, for `nginx -p OUT -c OUT/nginx.conf` (the rehearsal on one machine and its test).
Only the standard library: it runs before any virtualenv exists.
"""
from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
INCLUDED = ("boxoffice_proxy.conf", "boxoffice_micro_cache.conf")

STANDALONE = """# A whole nginx.conf around boxoffice.conf, for a private nginx (rendered by deploy/render_nginx.py).
{user}worker_processes {workers};
pid {out}/nginx.pid;
error_log {out}/error.log warn;

events {{
    worker_connections 4096;
}}

http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    {access_log}
    client_body_temp_path {out}/tmp/body;
    proxy_temp_path {out}/tmp/proxy;
    fastcgi_temp_path {out}/tmp/fastcgi;
    uwsgi_temp_path {out}/tmp/uwsgi;
    scgi_temp_path {out}/tmp/scgi;
    include {out}/boxoffice.conf;
}}
"""


def render(out: Path, listen: str, apps: list[str], static_root: Path, cache_dir: Path | None = None,
           server_name: str = "_", standalone: bool = False, workers: int = 1, access_log: bool = True) -> Path:
    """Write the configuration into `out`; return the file to start nginx with (nginx.conf when standalone,
    else boxoffice.conf)."""
    out.mkdir(parents=True, exist_ok=True)
    cache_dir = cache_dir or out / "cache"
    upstream = "\n".join(f"    server {app} max_fails=1 fail_timeout=5s;" for app in apps)
    values = {"upstream_servers": upstream, "listen": listen, "server_name": server_name,
              "static_root": str(static_root).rstrip("/"), "cache_dir": str(cache_dir), "conf_dir": str(out)}
    text = (HERE / "nginx.conf.template").read_text()
    for name, value in values.items():
        text = text.replace("{{" + name + "}}", value)
    if "{{" in text:
        raise ValueError(f"a value of the template was not given: {text[text.index('{{'):][:40]}")
    (out / "boxoffice.conf").write_text(text)
    for name in INCLUDED:
        shutil.copyfile(HERE / name, out / name)
    if not standalone:
        return out / "boxoffice.conf"
    for folder in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (out / "tmp" / folder).mkdir(parents=True, exist_ok=True)
    # Started as root, nginx's workers would run as `nobody` and could not read this private folder (or a
    # test's temporary one): the rehearsal's workers run as whoever started it.
    user = "user root;\n" if os.geteuid() == 0 else ""
    log = f"access_log {out}/access.log;" if access_log else "access_log off;"
    conf = out / "nginx.conf"
    conf.write_text(STANDALONE.format(user=user, workers=workers, out=out, access_log=log))
    return conf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="folder to write the configuration into")
    parser.add_argument("--listen", default="80", help="nginx's listen value (port, or address:port)")
    parser.add_argument("--app", action="append", required=True, help="an app server, host:port (repeat)")
    parser.add_argument("--static-root", type=Path, default=HERE.parent / "static")
    parser.add_argument("--cache-dir", type=Path, help="the micro-cache's folder (default: OUT/cache)")
    parser.add_argument("--server-name", default="_")
    parser.add_argument("--standalone", action="store_true", help="also write a whole nginx.conf")
    parser.add_argument("--workers", type=int, default=1, help="nginx worker processes (standalone)")
    parser.add_argument("--no-access-log", action="store_true")
    args = parser.parse_args()
    print(render(args.out.resolve(), args.listen, args.app, args.static_root.resolve(), args.cache_dir,
                 args.server_name, args.standalone, args.workers, not args.no_access_log))


if __name__ == "__main__":
    main()
