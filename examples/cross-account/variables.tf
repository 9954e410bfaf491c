variable "vault_address" {
  description = "Address of vaultlet. `null` uses `VAULT_ADDR`."
  type        = string
  default     = null
}

variable "broker_principal_arn" {
  description = "ARN of vaultlet's own IAM user or role (module `broker-iam` output `user_arn`), trusted by both target roles."
  type        = string
}

variable "accounts" {
  description = "Per target account: the vaultlet role that gives Terraform admin credentials there (to create the target role), the external id the broker must present, and the longest session."
  type = map(object({
    bootstrap_vault_role = string
    external_id          = string
    max_session_hours    = number
  }))
  default = {
    prod = { bootstrap_vault_role = "demo", external_id = "vaultlet-prod-7f3a", max_session_hours = 1 }
    dev  = { bootstrap_vault_role = "demo", external_id = "vaultlet-dev-21c9", max_session_hours = 4 }
  }

  validation {
    condition     = alltrue([for name in keys(var.accounts) : contains(["prod", "dev"], name)])
    error_message = "This example has two accounts, `prod` and `dev` (one provider block each)."
  }
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
