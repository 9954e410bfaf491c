terraform {
  # Ephemeral resources and ephemeral values in provider blocks.
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 3.39"
    }
    vaultlet = {
      source  = "vaultlet/vaultlet"
      version = ">= 0.1.0"
    }
  }
}
