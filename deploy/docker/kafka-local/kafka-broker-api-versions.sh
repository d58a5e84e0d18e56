#!/bin/bash
# Health probe of the stand-in image, called as apache/kafka's tool is in docker-compose.yml
# (--bootstrap-server HOST:PORT): succeeds when the broker's listener accepts a connection.
set -eu
server=localhost:9092
while [ $# -gt 0 ]; do
  case $1 in --bootstrap-server) server=$2; shift 2 ;; *) shift ;; esac
done
exec 3<>"/dev/tcp/${server%:*}/${server##*:}"
