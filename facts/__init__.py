"""Custom pyinfra facts: each reads everything one concern needs in a single command on the host."""
