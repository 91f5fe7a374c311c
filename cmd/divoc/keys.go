package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/keys"
)

func keysCmd() *cobra.Command {
	c := &cobra.Command{Use: "keys", Short: "Generate, show and export signing keys (JWK / JWKS)"}

	var alg, owner, role string
	gen := &cobra.Command{
		Use:   "generate FILE",
		Short: "Generate a key file (a private JWK, mode 0600); prints its kid",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := checkKeyOwnerRole(owner, role); err != nil {
				return err
			}
			s, err := keys.Generate(alg)
			if err != nil {
				return err
			}
			if err := keys.Save(args[0], s, owner, role); err != nil {
				return err
			}
			fmt.Printf("%s\t%s\t%s\n", s.KID(), s.Alg(), args[0])
			return nil
		},
	}
	gen.Flags().StringVar(&alg, "alg", "EdDSA", "EdDSA (Ed25519; the ledger's) or ES256 (P-256)")
	gen.Flags().StringVar(&owner, "owner", "", "owner recorded in the file, e.g. facility/DEL010")
	gen.Flags().StringVar(&role, "role", "", "role recorded in the file: facility, issuer, governance")

	show := &cobra.Command{
		Use:   "show FILE",
		Short: "Show a key file's kid, algorithm, owner, role and public JWK",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			kf, err := keys.ReadKeyFile(args[0])
			if err != nil {
				return err
			}
			pub, err := json.MarshalIndent(kf.Signer.PublicJWK(), "", "  ")
			if err != nil {
				return err
			}
			fmt.Printf("kid:   %s\nalg:   %s\nowner: %s\nrole:  %s\npublic JWK:\n%s\n", kf.Signer.KID(), kf.Signer.Alg(), kf.Owner, kf.Role, pub)
			return nil
		},
	}

	var asSet bool
	export := &cobra.Command{
		Use:   "export FILE...",
		Short: "Print the public JWK of a key file, or a JWKS of several (--jwks)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			var infos []keys.PublicKeyInfo
			for _, p := range args {
				kf, err := keys.ReadKeyFile(p)
				if err != nil {
					return err
				}
				infos = append(infos, keys.PublicKeyInfo{Key: kf.Signer.Public(), KID: kf.Signer.KID(), Alg: kf.Signer.Alg(), Owner: kf.Owner, Role: kf.Role})
			}
			if !asSet && len(infos) == 1 {
				b, err := json.MarshalIndent(keysPublicJWK(args[0]), "", "  ")
				if err != nil {
					return err
				}
				_, err = fmt.Println(string(b))
				return err
			}
			b, err := keys.PublicJWKSet(infos...)
			if err != nil {
				return err
			}
			_, err = os.Stdout.Write(b)
			return err
		},
	}
	export.Flags().BoolVar(&asSet, "jwks", false, "print a JWKS even for one key")
	c.AddCommand(gen, show, export)
	return c
}

func keysPublicJWK(path string) any {
	kf, err := keys.ReadKeyFile(path)
	if err != nil {
		return nil
	}
	return kf.Signer.PublicJWK()
}

// checkKeyOwnerRole refuses an owner or role the ledger would not accept
// for the key later: owner is facility/CODE or authority/ID, a facility's
// key has the facility role and an authority's one of the others.
func checkKeyOwnerRole(owner, role string) error {
	roles := []string{app.RoleFacility, app.RoleIssuer, app.RoleGovernance, app.RoleAuditor}
	if role != "" && !slices.Contains(roles, role) {
		return fmt.Errorf("--role %q: must be one of %s", role, strings.Join(roles, ", "))
	}
	if owner == "" {
		return nil
	}
	kind, id, ok := strings.Cut(owner, "/")
	if !ok || id == "" || (kind != "facility" && kind != "authority") {
		return fmt.Errorf("--owner %q: must be facility/CODE or authority/ID", owner)
	}
	if role != "" && (kind == "facility") != (role == app.RoleFacility) {
		return fmt.Errorf("--owner %s with --role %s: a facility's key has the facility role, an authority's key issuer, governance or auditor", owner, role)
	}
	return nil
}
