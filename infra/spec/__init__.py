"""Stage 1, stack file -> spec. Takes `Pulumi.<stack>.yaml` (read once, `load`) and the seed
catalog (`catalog`); gives a validated `PlatformSpec` (`models`) or every problem at once
(`problems`, `validation`), and what is derived from the spec alone: the OpenBao policies
(`openbao_policy`), the Traefik labels (`traefik_labels`), the security stack's operator
settings (`security_settings`)."""
