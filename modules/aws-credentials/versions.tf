terraform {
  # 1.10: ephemeral resources and ephemeral outputs (the ephemeral mode).
  required_version = ">= 1.10"

  required_providers {
    external = {
      source  = "hashicorp/external"
      version = ">= 2.3.2" # 2.3.2 omits null query keys instead of sending ""
    }
    vaultlet = {
      source  = "vaultlet/vaultlet"
      version = ">= 0.1.0"
    }
  }
}
