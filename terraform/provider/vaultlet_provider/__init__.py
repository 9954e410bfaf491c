"""terraform-provider-vaultlet: vaultlet's AWS credentials as Terraform ephemeral resources."""
