"""The district network: a district centre and its commune stations over NATS JetStream.

The message server is only a courier. The district publishes each station's signed
programme (a JetStream key-value entry) and its audio (an object store, content-addressed
by SHA-256); a station verifies and installs it atomically and keeps playing its last good
programme whatever the network does. Play-log rows come back on a stream, de-duplicated by
message id; urgent and priority commands go down a stream with one durable consumer per
station. Only ``fleet.client`` imports the NATS client.
"""
