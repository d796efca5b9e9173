"""The network of hubs and stations at any depth (a province, its communes, their clusters) over NATS JetStream.

The message server is only a courier. A hub publishes each station's signed
programme (a JetStream key-value entry) and its audio (an object store, content-addressed
by SHA-256); a station verifies and installs it atomically and keeps playing its last good
programme whatever the network does. Play-log rows come back on a stream, de-duplicated by
message id; urgent and priority commands go down a stream with one durable consumer per
station. A node may hold both roles (a commune: a station of its province, a hub of its
clusters). Only ``fleet.client`` imports the NATS client.
"""
