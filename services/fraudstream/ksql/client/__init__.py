"""A client for any ksqlDB REST endpoint: client, ksql-python facade, apply."""
