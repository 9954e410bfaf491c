variable "aws_profile" {
  description = "AWS profile with a vaultlet `credential_process` (rendered by `profile/`). The AWS SDK runs it again whenever the credentials expire."
  type        = string
  default     = "vaultlet-long-apply"
}

variable "region" {
  description = "AWS region."
  type        = string
  default     = "us-east-1"
}

variable "pause_seconds" {
  description = "A deliberate pause between two resources, standing in for a long apply (RDS, EKS...). Set it past the credentials' expiration to watch them being refreshed."
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
