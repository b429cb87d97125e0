"""The staff web page (`linlitong web`): login links, scope, and the read-only pages."""
