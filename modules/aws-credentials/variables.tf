################################################################################
# What to ask for
################################################################################

variable "create_credentials" {
  description = "Whether to issue credentials now, through a `data \"external\"` read at plan time. They are then stored in state and plan files: keep it `false` when you only use the `credential_process`/`aws_config_profile` outputs."
  type        = bool
  default     = true
}

variable "ephemeral_credentials" {
  description = "Issue the credentials through the vaultlet provider's ephemeral resource instead: the `ephemeral_*` outputs carry them, nothing is stored in state or plan files, the lease is renewed during long applies and revoked when Terraform is done. `create_credentials` is then ignored (nothing is read through `data \"external\"`)."
  type        = bool
  default     = false
}

variable "role" {
  description = "Name of the role under the AWS secrets engine mount (`<mount>/creds/<role>`)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$", var.role))
    error_message = "The role must be a role name (letters, digits, `_.@-`, at most 128 characters), not a path."
  }
}

variable "mount" {
  description = "Path of the AWS secrets engine mount, without leading or trailing slashes."
  type        = string
  default     = "aws"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$", var.mount))
    error_message = "The mount must be a path such as `aws` or `team/aws`, without leading or trailing slashes."
  }
}

variable "credential_type" {
  description = "Endpoint to read: `creds` (`<mount>/creds/<role>`) or `sts` (`<mount>/sts/<role>`)."
  type        = string
  default     = "creds"

  validation {
    condition     = contains(["creds", "sts"], var.credential_type)
    error_message = "The credential_type must be `creds` or `sts`."
  }
}

variable "role_arn" {
  description = "ARN of the AWS role to assume, when the vaultlet role allows several. `null` lets the server pick its only one."
  type        = string
  default     = null

  validation {
    condition     = var.role_arn == null || can(regex("^arn:aws(-cn|-us-gov|-iso|-iso-b)?:iam::[0-9]{12}:role/([\\x21-\\x7E]+/)?[A-Za-z0-9+=,.@_-]{1,64}$", var.role_arn))
    error_message = "The role_arn must be an IAM role ARN such as `arn:aws:iam::123456789012:role/vault-deploy`."
  }
}

variable "ttl" {
  description = "Lifetime of STS credentials, as Vault durations (`900`, `15m`, `1h30m`). Between 15 minutes and 12 hours (AWS's bounds). `null` uses the role's default."
  type        = string
  default     = null

  validation {
    condition = var.ttl == null || (
      can(regex("^([0-9]+|([0-9]+h)?([0-9]+m)?([0-9]+s)?)$", var.ttl)) &&
      try(
        tonumber(var.ttl) >= 900 && tonumber(var.ttl) <= 43200,
        sum([for part in regexall("([0-9]+)([hms])", var.ttl) : tonumber(part[0]) * lookup({ h = 3600, m = 60, s = 1 }, part[1])]) >= 900 &&
        sum([for part in regexall("([0-9]+)([hms])", var.ttl) : tonumber(part[0]) * lookup({ h = 3600, m = 60, s = 1 }, part[1])]) <= 43200,
        false
      )
    )
    error_message = "The ttl must be a duration such as `900`, `15m` or `1h30m`, between 15m and 12h."
  }
}

variable "role_session_name" {
  description = "Session name of the assumed role (shows in CloudTrail). `null` lets the server build one."
  type        = string
  default     = null

  validation {
    condition     = var.role_session_name == null || can(regex("^[A-Za-z0-9+=,.@_-]{2,64}$", var.role_session_name))
    error_message = "The role_session_name must be 2 to 64 characters of letters, digits and `+=,.@_-`."
  }
}

################################################################################
# Where to ask (defaults come from the Vault CLI's environment: VAULT_ADDR, ...)
################################################################################

variable "vault_address" {
  description = "Address of vaultlet (or any Vault-compatible server). `null` uses `VAULT_ADDR`. The token always comes from the environment (`VAULT_TOKEN`, `VAULT_ROLE_ID`/`VAULT_SECRET_ID`, `~/.vault-token`), never from Terraform."
  type        = string
  default     = null

  validation {
    condition     = var.vault_address == null || can(regex("^https?://[^/\\s]+/?$", var.vault_address))
    error_message = "The vault_address must be an http(s) URL without a path, such as `https://vault.example.com:8200`."
  }
}

variable "namespace" {
  description = "Vault Enterprise namespace (`X-Vault-Namespace`). `null` uses `VAULT_NAMESPACE`."
  type        = string
  default     = null
}

variable "ca_cert" {
  description = "Path to a PEM CA bundle (file or directory) that signs the server's certificate. `null` uses `VAULT_CACERT`, then the system store."
  type        = string
  default     = null
}

variable "tls_skip_verify" {
  description = "Do not verify the server's TLS certificate. For local experiments only."
  type        = bool
  default     = false
}

variable "timeout_seconds" {
  description = "Time budget of one credentials lookup, retries of connection errors, 5xx and 429 answers included."
  type        = number
  default     = 30

  validation {
    condition     = var.timeout_seconds > 0 && var.timeout_seconds <= 300
    error_message = "The timeout_seconds must be between 1 and 300."
  }
}

################################################################################
# The refreshable path: credential_process
################################################################################

variable "python" {
  description = "Python 3.8+ interpreter that runs the credentials program (standard library only)."
  type        = string
  default     = "python3"
}

variable "profile_name" {
  description = "Name of the profile in the `aws_config_profile` output."
  type        = string
  default     = "vaultlet"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+$", var.profile_name))
    error_message = "The profile_name must be letters, digits and `_.-`."
  }
}

variable "region" {
  description = "Region written into the `aws_config_profile` output. `null` leaves it out."
  type        = string
  default     = null
}

variable "expiry_window_seconds" {
  description = "With `credential_process`, report the credentials as expiring this many seconds early, so the AWS SDK fetches new ones before the old ones lapse in the middle of a call."
  type        = number
  default     = 0

  validation {
    condition     = var.expiry_window_seconds >= 0 && var.expiry_window_seconds < 43200
    error_message = "The expiry_window_seconds must be between 0 and 43199."
  }
}
