package controllers

import (
	"reflect"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func gvkOf(c client.Client, obj client.Object) schema.GroupVersionKind {
	gvk, err := c.GroupVersionKindFor(obj)
	if err != nil {
		return obj.GetObjectKind().GroupVersionKind()
	}
	return gvk
}

// kindOf names an object's Go type (Deployment, ConfigMap…) for messages.
func kindOf(obj client.Object) string {
	return reflect.TypeOf(obj).Elem().Name()
}
