package keystore

import (
	"errors"
	"fmt"
)

// parsePKCS12 and parseJKS are filled in by the foundation work; they must
// return a KeyStore with Key, Certificate and Chain set (see finish).
func parsePKCS12(data []byte, password string) (*KeyStore, error) {
	return nil, errors.New("PKCS#12 keystores are not supported yet")
}

func parseJKS(data []byte, o Options) (*KeyStore, error) {
	return nil, fmt.Errorf("JKS keystores are not supported yet")
}

func parseJKSTrust(data []byte, password string) ([]TrustedCert, error) {
	return nil, errors.New("JKS truststores are not supported yet")
}

func parsePKCS12Trust(data []byte, password string) ([]TrustedCert, error) {
	return nil, errors.New("PKCS#12 truststores are not supported yet")
}

func encodeJKSTrust(entries []TrustedCert, password string) ([]byte, error) {
	return nil, errors.New("JKS truststores are not supported yet")
}

func encodePKCS12Trust(entries []TrustedCert, password string) ([]byte, error) {
	return nil, errors.New("PKCS#12 truststores are not supported yet")
}
