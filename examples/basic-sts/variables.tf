variable "vault_address" {
  description = "Address of vaultlet. `null` uses `VAULT_ADDR`; the token comes from `VAULT_TOKEN` (or AppRole variables, or `~/.vault-token`)."
  type        = string
  default     = null
}

variable "vault_role" {
  description = "vaultlet role to read (`aws/creds/<role>`): an assumed_role role. `demo` is the one `vaultlet server -dev -dev-aws=moto` creates."
  type        = string
  default     = "demo"
}

variable "ttl" {
  description = "Lifetime of the STS credentials: a plan and its apply must both happen within it."
  type        = string
  default     = "15m"
}

variable "region" {
  description = "AWS region."
  type        = string
  default     = "us-east-1"
}

variable "local_aws_endpoint" {
  description = "URL of a local AWS stand-in (moto) for every service; `null` for real AWS."
  type        = string
  default     = null
}
