variable "vault_address" {
  description = "Address of vaultlet, written into the profile. `null` leaves it to `VAULT_ADDR` when the SDK runs the program."
  type        = string
  default     = null
}

variable "vault_role" {
  description = "vaultlet role the profile reads (`aws/creds/<role>`)."
  type        = string
  default     = "demo"
}

variable "ttl" {
  description = "Lifetime of each set of STS credentials; the SDK fetches a new set when one expires."
  type        = string
  default     = "15m"
}

variable "profile_name" {
  description = "Name of the AWS profile."
  type        = string
  default     = "vaultlet-long-apply"
}

variable "region" {
  description = "Region written into the profile."
  type        = string
  default     = "us-east-1"
}

variable "expiry_window_seconds" {
  description = "Report each set as expiring this much early, so the SDK refreshes before calls fail."
  type        = number
  default     = 60
}
