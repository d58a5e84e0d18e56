# syntax=docker/dockerfile:1
# Stand-in for apache/kafka where no image registry is reachable (this project's CI): the same
# Apache Kafka 4.x jars the local stack runs (deploy/local/pom.xml, Maven Central) on Debian's
# Java 17, configured like apache/kafka (KAFKA_* variables -> server.properties, CLUSTER_ID)
# and with its health-check path (/opt/kafka/bin/kafka-broker-api-versions.sh).
# Built by `IMAGES=kafka-local make images` with deploy/ as the context; used by
# docker-compose.local-images.yml. Users pull apache/kafka instead.
ARG BASE=python:3.11-slim-bookworm
FROM ${BASE}
RUN mkdir -p /usr/share/man/man1 \
 && apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >/dev/null \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /usr/share/doc/* /usr/share/man/* \
 && groupadd --gid 1000 appuser && useradd --uid 1000 --gid appuser --no-create-home appuser \
 && mkdir -p /var/lib/kafka/data /opt/kafka/config && chown -R appuser:appuser /var/lib/kafka /opt/kafka/config
COPY local/target/kafka-libs/ /opt/kafka/libs/
COPY docker/kafka-local/ /opt/kafka/bin/
RUN chmod 0755 /opt/kafka/bin/run /opt/kafka/bin/kafka-broker-api-versions.sh
USER 1000:1000
HEALTHCHECK --interval=10s --timeout=10s --start-period=20s --retries=12 \
  CMD ["/opt/kafka/bin/kafka-broker-api-versions.sh", "--bootstrap-server", "localhost:9092"]
ENTRYPOINT ["/opt/kafka/bin/run"]
