variable "vault_address" {
  description = "Address of vaultlet. `null` uses `VAULT_ADDR`; the token comes from `VAULT_TOKEN` (or `~/.vault-token`)."
  type        = string
  default     = null
}

variable "vault_role" {
  description = "vaultlet role to read (`<mount>/creds/<role>`). `demo` is the one `vaultlet server -dev -dev-aws=moto` creates."
  type        = string
  default     = "demo"
}

variable "mount" {
  description = "Path of vaultlet's AWS secrets engine mount."
  type        = string
  default     = "aws"
}

variable "region" {
  description = "AWS region."
  type        = string
  default     = "us-east-1"
}

variable "pause_seconds" {
  description = "A deliberate pause after the first bucket, standing in for a long apply; a second bucket is created after it. Set it past an IAM-user lease's TTL to watch the provider renew the lease."
  type        = number
  default     = 0

  validation {
    condition     = var.pause_seconds >= 0 && var.pause_seconds <= 7200
    error_message = "The pause_seconds must be between 0 and 7200."
  }
}

variable "local_aws_endpoint" {
  description = "URL of a local AWS stand-in (moto) for every service; `null` for real AWS."
  type        = string
  default     = null
}
